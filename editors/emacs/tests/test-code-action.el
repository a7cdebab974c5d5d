;;; test-code-action.el --- Orion code actions through `eglot-code-actions'  -*- lexical-binding: t; -*-

;; What a user does: `M-x eglot-code-actions' on a function, pick "Orion: Add
;; docstring".  eglot runs the action's command synchronously (jsonrpc gives
;; up after 10 s), so the command must return at once and the turn's edit
;; arrive later as `workspace/applyEdit'.  The model is slower than that
;; timeout on purpose.  The edit lands after a non-ASCII letter and an emoji
;; on its line (eglot 1.9 speaks UTF-16 only), and must change exactly the
;; placeholder, in the buffer only.  "Orion: Explain this" must show its
;; answer somewhere a stock client displays it (eglot drops orion/*), and
;; "Orion: Write tests for this" must create its file with an edit eglot 1.9
;; can apply (it advertises no resourceOperations).

;;; Code:

(load (expand-file-name "orion-test.el" (file-name-directory load-file-name)) nil t)

(setenv "ORION_API_KEY" "x")

(let* ((source (concat "def greet(name):\n"
                       "    \"\"\"👋 Grüße: TODO\"\"\"\n"
                       "    return f\"Grüße, {name} 👋\"\n"))
       (edited (concat "def greet(name):\n"
                       "    \"\"\"👋 Grüße: Return a greeting for name.\"\"\"\n"
                       "    return f\"Grüße, {name} 👋\"\n"))
       (test-source (concat "from src.greet import greet\n\n\n"
                            "def test_greet():\n"
                            "    assert greet(\"Zoë\") == \"Grüße, Zoë 👋\"\n"))
       (explanation "It builds the greeting with an f-string: «Grüße, NAME 👋».")
       (model (orion-test-model-server
               `(:replies
                 [;; Add docstring: slower than jsonrpc's 10 s request timeout.
                  (:text "Reading it. " :delay_s 11
                   :tool_calls [(:name "read_file" :arguments (:path "src/greet.py"))])
                  (:text "Adding the docstring. "
                   :tool_calls [(:name "edit_file"
                                 :arguments (:path "src/greet.py" :oldText "TODO"
                                             :newText "Return a greeting for name."))])
                  (:text "Done: greet() has a docstring.")
                  ;; Explain this
                  (:text ,explanation)
                  ;; Write tests for this: a new file
                  (:text "Writing the tests. "
                   :tool_calls [(:name "create_file"
                                 :arguments (:path "tests/test_greet.py" :content ,test-source))])
                  (:text "Wrote tests/test_greet.py.")])))
       (ws (orion-test-workspace `(("src/greet.py" . ,source))))
       (file (concat ws "src/greet.py"))
       (db (concat (orion-test-tmpdir) "orion.db"))
       (server nil)
       (buffer nil))
  (orion-test-configure :model "openai/scripted" :apiBase (plist-get model :url) :databasePath db)
  (orion-test-run
   "code_action"
   `(("the server lists Orion code actions without calling the model"
      . ,(lambda ()
           (setq server (orion-test-open file) buffer (current-buffer))
           (goto-char (point-min))
           (search-forward "greet")
           (let ((titles (mapcar (lambda (a) (plist-get a :title))
                                 (eglot-code-actions (line-beginning-position) (point)))))
             (orion-test-truthy (member "Orion: Add docstring" titles) (format "titles %S" titles))
             (orion-test-truthy (member "Orion: Write tests for this" titles) (format "titles %S" titles)))
           (orion-test-eq 0 (length (orion-test-model-requests model)) "model calls to list actions")))
     ("'Orion: Add docstring' returns at once and its edit reaches the buffer"
      . ,(lambda ()
           (with-current-buffer buffer
             (goto-char (point-min))
             (search-forward "gre")
             (setq orion-test-choice "Orion: Add docstring")
             ;; A keyboard user: eglot asks with completing-read, not a popup menu.
             (let ((last-nonmenu-event ?\r))
               (condition-case err
                   (call-interactively #'eglot-code-actions)
                 (jsonrpc-error
                  (error "eglot-code-actions failed (the command blocked eglot?): %S" (cdr err)))))
             ;; The model is still on its first (11 s) answer: the command did
             ;; not wait for the turn.
             (orion-test-eq source (buffer-string) "buffer right after the command returned")
             (orion-test-wait "the docstring edit in the buffer"
                              (lambda () (not (equal source (buffer-string)))) 60)
             (orion-test-eq edited (buffer-string) "the buffer after the edit")
             (orion-test-eq source (orion-test-read file) "the file on disk (the server never writes it)")
             (orion-test-truthy (buffer-modified-p) "buffer modified")
             (orion-test-truthy (cl-find-if (lambda (q) (string-search file q)) orion-test-questions)
                                (format "eglot asked before editing %s: %S" file orion-test-questions))
             ;; One undo restores the original: the edit is an ordinary change.
             ;; (The command loop puts an undo boundary after each command;
             ;; batch Emacs has no command loop, so the test does.)
             (undo-boundary)
             (let ((last-command nil)) (undo))
             (orion-test-eq source (buffer-string) "after undo")
             (undo-boundary)
             (let ((last-command nil)) (undo))
             (orion-test-eq edited (buffer-string) "after redo"))))
     ("the turn is stored and shows in orion.history"
      . ,(lambda ()
           (let (messages)
             ;; The answer is stored when the turn ends, just after its edit.
             (orion-test-wait "the turn's answer in history"
                              (lambda ()
                                (setq messages (append (plist-get (orion-test-command server "orion.history")
                                                                  :messages)
                                                       nil))
                                (= 2 (length messages))))
             ;; The stored question names the action and the function it is about.
             (orion-test-contains (plist-get (car messages) :content) "docstring" "user message")
             (orion-test-contains (plist-get (car messages) :content) "greet" "user message")
             (orion-test-eq "Reading it. Adding the docstring. Done: greet() has a docstring."
                            (plist-get (cadr messages) :content) "assistant message"))))
     ("'Orion: Explain this' shows its answer where a stock client sees it"
      . ,(lambda ()
           (with-current-buffer buffer
             (transient-mark-mode 1)
             (goto-char (point-min))
             (forward-line 2)
             (push-mark (point) t t)
             (end-of-line)
             (setq orion-test-choice "Orion: Explain this")
             (let ((last-nonmenu-event ?\r))
               (call-interactively #'eglot-code-actions))
             (deactivate-mark)
             (orion-test-wait "the explanation in a message"
                              (lambda () (orion-test-messages-matching (regexp-quote explanation)))
                              60)
             (orion-test-eq edited (buffer-string) "explaining does not edit"))))
     ("'Orion: Write tests for this' creates a file through applyEdit"
      . ,(lambda ()
           ;; eglot 1.9 advertises no resourceOperations: a CreateFile would
           ;; fail in it, a plain text edit of the new file works.
           (let ((new-file (concat ws "tests/test_greet.py"))
                 (asked (length orion-test-questions)))
             (with-current-buffer buffer
               (goto-char (point-min))
               (search-forward "gre")
               (setq orion-test-choice "Orion: Write tests for this")
               (let ((last-nonmenu-event ?\r))
                 (call-interactively #'eglot-code-actions)))
             (let ((new-buffer (orion-test-wait "a buffer for the new test file"
                                                (lambda () (find-buffer-visiting new-file)) 60)))
               (orion-test-wait "the new file's text"
                                (lambda () (with-current-buffer new-buffer (> (buffer-size) 0))))
               (orion-test-eq test-source (with-current-buffer new-buffer (buffer-string)) "new buffer"))
             (orion-test-eq nil (file-exists-p new-file) "the server writes no file")
             ;; Only what eglot advertises: no resource operations (kind create/rename/delete).
             (dolist (wedit orion-test-workspace-edits)
               (seq-doseq (change (plist-get wedit :documentChanges))
                 (orion-test-eq nil (plist-get change :kind)
                                (format "a resource operation sent to eglot: %S" change))))
             (orion-test-truthy (> (length orion-test-questions) asked) "eglot asked before creating it")
             ;; What the model was told: the file was created, not refused.
             (let* ((requests (orion-test-model-requests model))
                    (after (orion-test-wait "the model call after create_file"
                                            (lambda ()
                                              (setq requests (orion-test-model-requests model))
                                              (nth 5 requests))))
                    (last-message (car (last (append (plist-get after :messages) nil)))))
               (orion-test-eq "tool" (plist-get last-message :role) "last message role")
               (orion-test-truthy (string-prefix-p "created tests/test_greet.py"
                                                   (plist-get last-message :content))
                                  (format "tool result %S" (plist-get last-message :content)))))))
     ("no error was shown"
      . ,(lambda ()
           (orion-test-eq nil (orion-test-messages-matching "Server reports (type=1)") "error messages"))))))

;;; test-code-action.el ends here
