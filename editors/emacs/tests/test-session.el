;;; test-session.el --- eglot connects, asks for status, chats, reads history  -*- lexical-binding: t; -*-

;; A stock eglot with nothing Orion-specific but `eglot-server-programs' (the
;; server entry plus initializationOptions) and the `.orion/' root marker.
;; Everything goes through `workspace/executeCommand', as a user's own
;; elisp would do it; eglot drops the orion/* notifications.

;;; Code:

(load (expand-file-name "orion-test.el" (file-name-directory load-file-name)) nil t)

(setenv "ORION_API_KEY" "x")  ; the API key is env only, never a setting

(let* ((answer "Grüße 👋: greet() returns a friendly greeting for NAME.")
       (prompt "What does greet do? (ça va 😀)")
       (source "def greet(name):\n    return f\"Grüße, {name} 👋\"\n")
       (model (orion-test-model-server
               `(:replies [(:text "Let me read it. "
                            :tool_calls [(:name "read_file" :arguments (:path "src/greet.py"))])
                           (:text ,answer)])))
       ;; The file sits below the root: without the marker the root would be src/.
       (ws (orion-test-workspace `(("src/greet.py" . ,source))))
       (root (directory-file-name ws))
       (file (concat ws "src/greet.py"))
       (uri (eglot--path-to-uri file))
       (db (concat (orion-test-tmpdir) "orion.db"))
       ;; <name>-<first 12 hex of sha256(realpath)>, as the contract derives it.
       (project-id (format "ws-%s" (substring (secure-hash 'sha256 (encode-coding-string root 'utf-8))
                                              0 12)))
       (server nil)
       (chat-result nil))
  (orion-test-configure :model "openai/scripted" :apiBase (plist-get model :url) :databasePath db)
  (orion-test-run
   "session"
   `(("eglot connects with the workspace (marked by .orion/) as project root"
      . ,(lambda ()
           (setq server (orion-test-open file))
           (orion-test-eq root (directory-file-name (project-root (eglot--project server)))
                          "eglot's project root")
           (orion-test-truthy (eglot--server-capable :executeCommandProvider) "executeCommandProvider")
           (let ((commands (append (plist-get (eglot--server-capable :executeCommandProvider)
                                              :commands)
                                   nil)))
             (dolist (c '("orion.chat" "orion.history" "orion.status" "orion.cancel"))
               (orion-test-truthy (member c commands) (format "command %s advertised in %S" c commands))))
           (orion-test-truthy (eglot--server-capable :codeActionProvider) "codeActionProvider")))
     ("orion.status through eglot-execute-command"
      . ,(lambda ()
           (let* ((status (orion-test-command server "orion.status"))
                  (projects (append (plist-get status :projects) nil)))
             (orion-test-eq 1 (length projects) "one project")
             (orion-test-eq root (plist-get (car projects) :root) "the project root")
             (orion-test-eq project-id (plist-get (car projects) :projectId) "projectId")
             ;; initializationOptions reached the server.
             (orion-test-eq db (plist-get status :databasePath) "databasePath")
             (orion-test-eq "openai/scripted" (plist-get status :model) "model")
             (orion-test-truthy (integerp (plist-get status :schemaVersion)) "schemaVersion"))))
     ("orion.chat runs a turn against the scripted model"
      . ,(lambda ()
           ;; The first turn may wait for litellm's import (seconds): give it
           ;; more than jsonrpc's default 10 s.
           (setq chat-result
                 (orion-test-command server "orion.chat"
                                     `(:prompt ,prompt :uri ,uri)
                                     120))
           (orion-test-eq "completed" (plist-get chat-result :status) "status")
           (orion-test-eq (concat "Let me read it. " answer) (plist-get chat-result :answer) "answer")
           (orion-test-eq '((:name "read_file" :ok t))
                          (append (plist-get chat-result :toolCalls) nil) "toolCalls")
           (orion-test-eq project-id (plist-get chat-result :projectId) "projectId")
           (let ((requests (orion-test-model-requests model)))
             (orion-test-eq 2 (length requests) "model calls")
             (orion-test-contains (json-encode (plist-get (car requests) :messages)) "What does greet do?"
                                  "the prompt reached the model")
             ;; The tool result the model got is the file's real text.
             (orion-test-contains (json-encode (plist-get (cadr requests) :messages))
                                  "Grüße, {name}" "the file reached the model"))
           (orion-test-eq source (with-current-buffer (find-buffer-visiting file) (buffer-string))
                          "the source buffer is untouched")))
     ("orion.history shows the turn"
      . ,(lambda ()
           (let* ((history (orion-test-command server "orion.history"
                                               `(:uri ,uri)))
                  (messages (append (plist-get history :messages) nil)))
             (orion-test-eq project-id (plist-get history :projectId) "projectId")
             (orion-test-eq '("user" "assistant") (mapcar (lambda (m) (plist-get m :role)) messages) "roles")
             (orion-test-eq prompt (plist-get (car messages) :content) "the prompt as typed")
             (orion-test-eq (plist-get chat-result :answer) (plist-get (cadr messages) :content) "the answer")
             (dolist (m messages)
               (orion-test-eq (plist-get chat-result :turnId) (plist-get m :turnId) "turnId")))))
     ("no error was shown"
      . ,(lambda ()
           (orion-test-eq nil (orion-test-messages-matching "Server reports (type=1)") "error messages"))))))

;;; test-session.el ends here
