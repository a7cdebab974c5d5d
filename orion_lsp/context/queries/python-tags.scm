; Orion tags for Python.
; Convention: a definition pattern captures the whole node as @definition.<kind>
; and its name as @name. When one name node gets several kinds, the extractor
; keeps the most specific one (method beats function).
; References are not in this query: they are identifier tokens outside
; comments and strings (orion_lsp/context/references.py).
; Depth 4 reaches methods of classes nested in `if`/`try` at module level and
; functions nested one level; it skips classes and closures local to a method
; body (test scaffolding, mostly), and the query costs 5x less.
; orion: max-start-depth 4

(class_definition
  name: (identifier) @name) @definition.class

(function_definition
  name: (identifier) @name) @definition.function

(class_definition
  body: (block
    [(function_definition name: (identifier) @name) @definition.method
     (decorated_definition
       definition: (function_definition name: (identifier) @name) @definition.method)]))

; Module-level constants in UPPER_CASE are part of a module's API.
(module
  (expression_statement
    (assignment
      left: (identifier) @name) @definition.constant)
  (#match? @name "^[A-Z][A-Z0-9_]+$"))
