;;; test-storage-error.el --- Storage errors are loud in a stock eglot  -*- lexical-binding: t; -*-

;; ORION_DB points below a regular file, so the database cannot be opened.
;; The server still initializes; eglot shows the showMessage error in the
;; echo area; every command that needs storage fails with `Orion storage
;; error: ...' (and a showMessage with the same text), no model is called,
;; and nothing is written.

;;; Code:

(load (expand-file-name "orion-test.el" (file-name-directory load-file-name)) nil t)

(defconst storage-test--shown-re "Server reports (type=1): \\(Orion storage error: .*\\)"
  "How eglot 1.9 echoes a window/showMessage of type Error.")

(defun storage-test--shown ()
  "The texts of the storage errors eglot echoed, oldest first."
  (mapcar (lambda (m) (string-match storage-test--shown-re m) (match-string 1 m))
          (orion-test-messages-matching storage-test--shown-re)))

(let* ((model (orion-test-model-server '(:replies [(:text "should never be asked")])))
       (ws (orion-test-workspace '(("src/x.py" . "def f(x):\n    return x  # ünïcode 🙂\n"))))
       (file (concat ws "src/x.py"))
       (blocker (concat (orion-test-tmpdir) "not-a-directory"))
       (db (concat blocker "/orion.db"))
       (server nil))
  (orion-test-write blocker "a file, not a directory\n")
  (setenv "ORION_DB" db)
  (setenv "ORION_API_KEY" "x")
  (orion-test-configure :model "openai/scripted" :apiBase (plist-get model :url))
  (orion-test-run
   "storage_error"
   `(("the server starts and eglot shows the storage error"
      . ,(lambda ()
           (setq server (orion-test-open file))
           (orion-test-truthy (jsonrpc-running-p server) "server running")
           (orion-test-wait "the storage error message" #'storage-test--shown 20)
           (orion-test-contains (car (storage-test--shown)) db "the message names the database")))
     ("orion.chat fails with the storage error, also shown"
      . ,(lambda ()
           (let* ((before (length (storage-test--shown)))
                  (err (orion-test-jsonrpc-error
                         (orion-test-command server "orion.chat" '(:prompt "hello?") 60)))
                  (text (alist-get 'jsonrpc-error-message err)))
             (orion-test-eq -32803 (alist-get 'jsonrpc-error-code err) "RequestFailed")
             (orion-test-truthy (string-prefix-p "Orion storage error:" text) (format "message %S" text))
             (orion-test-contains text db "the error names the database")
             (orion-test-wait "a showMessage with the same text"
                              (lambda () (member text (nthcdr before (storage-test--shown))))
                              10))))
     ("orion.history fails with the storage error"
      . ,(lambda ()
           (let* ((err (orion-test-jsonrpc-error (orion-test-command server "orion.history")))
                  (text (alist-get 'jsonrpc-error-message err)))
             (orion-test-eq -32803 (alist-get 'jsonrpc-error-code err) "RequestFailed")
             (orion-test-truthy (string-prefix-p "Orion storage error:" text) (format "message %S" text)))))
     ("a code action fails loud and edits nothing"
      . ,(lambda ()
           (let ((before (length (storage-test--shown)))
                 (source (buffer-string)))
             (goto-char (point-min))
             (search-forward "def f")
             (setq orion-test-choice "Orion: Add docstring")
             ;; Whether the command itself fails or its detached turn does, the
             ;; user must see the storage error.
             (let ((last-nonmenu-event ?\r))
               (condition-case nil (call-interactively #'eglot-code-actions)
                 (jsonrpc-error nil)))
             (orion-test-wait "a storage error shown for the code action"
                              (lambda () (nthcdr before (storage-test--shown)))
                              30)
             (orion-test-eq source (buffer-string) "the buffer"))))
     ("no model was called and nothing was written"
      . ,(lambda ()
           (orion-test-eq 0 (length (orion-test-model-requests model)) "model calls")
           (orion-test-eq "a file, not a directory\n" (orion-test-read blocker) "the blocking file")
           (orion-test-eq nil (file-exists-p (concat ws ".orion/orion.db")) "no database in the workspace"))))))

;;; test-storage-error.el ends here
