;;; orion-test.el --- Helpers for the Orion tests in Emacs + eglot  -*- lexical-binding: t; -*-

;; Each test file is its own `emacs -Q --batch' process, with the real
;; orion-lsp server (started by eglot, exactly as `M-x eglot' does) and the
;; scripted OpenAI-compatible model server (`python -m orion_lsp.testing
;; serve') as real subprocesses.  Nothing is mocked on the editor side
;; except the two prompts a batch Emacs cannot answer (`y-or-n-p' and
;; `completing-read'), which are recorded and answered as a user would;
;; echo-area messages and applied workspace edits are recorded too.
;;
;;   emacs -Q --batch -l tests/test-session.el
;;
;; Environment: ORION_PYTHON (the interpreter that has orion_lsp),
;; ORION_EMACS_TEST_RUN (marks this run's processes for test.sh).

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'json)

;; -Q skips site-start, so Debian's elpa-* packages (eglot 1.9 on Debian 12)
;; are not on the load path: activate them as package.el would.
(let ((debian-elpa "/usr/share/emacs/site-lisp/elpa"))
  (when (file-directory-p debian-elpa)
    (setq package-directory-list (list debian-elpa))))
(package-initialize)
(require 'eglot)
(require 'python)

(defconst orion-test-dir (file-name-directory (or load-file-name buffer-file-name)))
(defconst orion-test-repo (expand-file-name "../../.." orion-test-dir))
(defconst orion-test-python
  (or (getenv "ORION_PYTHON") (expand-file-name ".venv/bin/python" orion-test-repo)))

(defun orion-test-eglot-version ()
  "The version header of the eglot that was loaded (1.9 on Debian 12)."
  (require 'lisp-mnt)
  (let* ((base (file-name-sans-extension (locate-library "eglot")))
         (el (cl-find-if #'file-exists-p (list (concat base ".el") (concat base ".el.gz")))))
    (or (and el (lm-version el)) "unknown")))

(defvar orion-test--processes nil "Processes a test file started itself.")
(defvar orion-test-messages nil "Every echo-area message, newest first.")
(defvar orion-test-questions nil "Every y-or-n-p prompt the user was asked, newest first.")
(defvar orion-test-choice nil "Substring of the completing-read candidate a user picks.")

;;; What the user sees and answers

(defun orion-test--record-message (format-string &rest args)
  (when format-string
    (push (apply #'format-message format-string args) orion-test-messages)))
(advice-add 'message :before #'orion-test--record-message)

;; eglot asks before it applies a server-initiated edit
;; (`eglot-confirm-server-initiated-edits' is `confirm' by default): say yes.
(advice-add 'y-or-n-p :override
            (lambda (prompt) (push prompt orion-test-questions) t))

;; `eglot-code-actions' lets the user pick one action with completing-read.
(advice-add 'completing-read :override
            (lambda (prompt collection &rest _)
              (let ((names (all-completions "" collection)))
                (or (cl-find-if (lambda (n) (string-match-p (regexp-quote orion-test-choice) n))
                                names)
                    (error "%s: no candidate matches %S among %S"
                           prompt orion-test-choice names)))))

(defvar orion-test-workspace-edits nil "Every WorkspaceEdit eglot applied, newest first.")
(advice-add 'eglot--apply-workspace-edit :before
            (lambda (wedit &rest _) (push wedit orion-test-workspace-edits)))

(defun orion-test-messages-matching (regexp)
  "Messages matching REGEXP, oldest first."
  (reverse (cl-remove-if-not (lambda (m) (string-match-p regexp m)) orion-test-messages)))

;;; Files and processes

(defun orion-test-tmpdir ()
  (file-name-as-directory (file-truename (make-temp-file "orion-emacs-" t))))

(defun orion-test-write (path text)
  (make-directory (file-name-directory path) t)
  (let ((coding-system-for-write 'utf-8-unix))
    (write-region text nil path nil 'silent)))

(defun orion-test-read (path)
  (when (file-exists-p path)
    (with-temp-buffer
      (let ((coding-system-for-read 'utf-8-unix))
        (insert-file-contents path))
      (buffer-string))))

(defun orion-test-workspace (files)
  "A workspace with FILES (alist of name . text), marked as a project by `.orion/'.
It has no VCS, as a new user's scratch folder would not."
  (let ((root (concat (orion-test-tmpdir) "ws/")))
    (make-directory (concat root ".orion") t)
    (dolist (f files) (orion-test-write (concat root (car f)) (cdr f)))
    root))

(defun orion-test-wait (what pred &optional timeout)
  "Process events until PRED is non-nil; fail after TIMEOUT seconds (default 30)."
  (let ((deadline (+ (float-time) (or timeout 30))) value)
    (while (not (setq value (funcall pred)))
      (when (> (float-time) deadline)
        (error "Timed out waiting for %s" what))
      (accept-process-output nil 0.05))
    value))

(defun orion-test-model-server (script)
  "Start the scripted model server answering SCRIPT (a plist: :replies, :default).
Return a plist (:url URL :requests-file FILE)."
  (let* ((dir (orion-test-tmpdir))
         (script-file (concat dir "script.json"))
         (url-file (concat dir "url"))
         (requests-file (concat dir "requests.jsonl")))
    (orion-test-write script-file (json-encode script))
    (push (make-process
           :name "scripted-model" :noquery t :connection-type 'pipe
           :buffer (get-buffer-create " *scripted-model*")
           :command (list orion-test-python "-m" "orion_lsp.testing" "serve"
                          "--script" script-file "--port-file" url-file
                          "--requests-file" requests-file))
          orion-test--processes)
    (orion-test-wait "the scripted model server"
                     (lambda () (let ((s (orion-test-read url-file))) (and s (> (length s) 0))))
                     20)
    (list :url (string-trim (orion-test-read url-file)) :requests-file requests-file)))

(defun orion-test-model-requests (model)
  "The request bodies MODEL received, decoded, oldest first."
  (let ((text (or (orion-test-read (plist-get model :requests-file)) ""))
        (json-object-type 'plist) (json-array-type 'list) (json-key-type 'keyword))
    (mapcar #'json-read-from-string (split-string text "\n" t))))

;;; Project root: the `.orion/' marker when there is no VCS

;; Without a VCS root, eglot takes the file's own directory as the project
;; root.  project.el 0.9+ (Emacs 29+) has `project-vc-extra-root-markers';
;; Debian 12's Emacs 28 has project.el 0.8.1 without it, so there a
;; `project-find-functions' entry finds `.orion/' (what docs/editors.md shows).
(defun orion-test--orion-project (dir)
  (when-let ((root (locate-dominating-file dir ".orion")))
    (cons 'transient (file-truename root))))
(if (boundp 'project-vc-extra-root-markers)
    (setq project-vc-extra-root-markers '(".orion"))
  (add-hook 'project-find-functions #'orion-test--orion-project))

;;; The language server, as a user configures it

(defun orion-test-configure (&rest settings)
  "Point `eglot-server-programs' at orion-lsp for Python buffers.
SETTINGS is the initializationOptions plist (:model, :apiBase, :databasePath ...)."
  (let ((log-file (concat (orion-test-tmpdir) "server.log")))
    (setq eglot-server-programs
          `((python-mode . (,orion-test-python "-m" "orion_lsp" "--log-file" ,log-file
                                               :initializationOptions ,(or settings eglot--{})))))
    log-file))

(defun orion-test-open (path)
  "Visit PATH and connect eglot as `M-x eglot' does; return the server."
  (find-file path)
  (let ((buffer (current-buffer)))
    (call-interactively #'eglot)
    (orion-test-wait (format "eglot to manage %s" path)
                     (lambda () (with-current-buffer buffer
                                  (and eglot--managed-mode (eglot-current-server))))
                     60)))

(defun orion-test-command (server command &optional arguments timeout)
  "Run COMMAND through `workspace/executeCommand' with ARGUMENTS (a plist).
TIMEOUT defaults to jsonrpc's own (10 s), what `eglot-execute-command' uses."
  (let ((params `(:command ,command :arguments ,(vector (or arguments eglot--{})))))
    (if timeout
        (jsonrpc-request server :workspace/executeCommand params :timeout timeout)
      (eglot-execute-command server command (plist-get params :arguments)))))

(defmacro orion-test-jsonrpc-error (&rest body)
  "Run BODY; return the jsonrpc error alist it signals, or fail if it succeeds."
  (declare (indent 0))
  `(condition-case err
       (progn ,@body (error "Expected a JSON-RPC error, the request succeeded"))
     (jsonrpc-error (cddr err))))

(defun orion-test-shutdown-all ()
  (dolist (server (hash-table-values eglot--servers-by-project))
    (dolist (s server)
      (ignore-errors (eglot-shutdown s))))
  (dolist (p orion-test--processes)
    (when (process-live-p p)
      (signal-process p 'term)
      (orion-test-wait "a helper process to exit"
                       (lambda () (not (process-live-p p))) 5))))

;;; Assertions and the runner

(defun orion-test-eq (expected actual &optional what)
  (unless (equal expected actual)
    (error "%s: expected %S, got %S" (or what "eq") expected actual)))

(defun orion-test-truthy (value &optional what)
  (unless value (error "%s: expected a true value, got %S" (or what "truthy") value))
  value)

(defun orion-test-contains (haystack needle &optional what)
  (unless (and (stringp haystack) (string-search needle haystack))
    (error "%s: expected to find %S in %S" (or what "contains") needle haystack)))

(defun orion-test-run (file-label tests)
  "Run TESTS, a list of (NAME . FUNCTION), in order; exit non-zero if one fails.
Steps of one file share the server, so a failed step does not stop the others
but each later step reports its own failure."
  (let ((failed 0))
    (dolist (test tests)
      (let ((start (float-time)))
        (condition-case err
            (progn
              (funcall (cdr test))
              (princ (format "ok      %s :: %s (%d ms)\n" file-label (car test)
                             (* 1000 (- (float-time) start)))))
          (error
           (cl-incf failed)
           (princ (format "FAILED  %s :: %s (%d ms)\n  %s\n" file-label (car test)
                          (* 1000 (- (float-time) start))
                          (error-message-string err)))))))
    (condition-case err (orion-test-shutdown-all)
      (error (cl-incf failed)
             (princ (format "FAILED  %s :: shutdown\n  %s\n" file-label
                            (error-message-string err)))))
    (kill-emacs (if (> failed 0) 1 0))))

(provide 'orion-test)
;;; orion-test.el ends here
