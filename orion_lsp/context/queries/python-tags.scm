; Orion tags for Python.
; Convention: a definition pattern captures the whole node as @definition.<kind>
; and its name as @name; a reference captures the name node as @reference.<kind>.
; When one name node gets several kinds, the extractor keeps the most specific
; one (method beats function).

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

; References: calls, attribute names and plain identifiers (imports, bases,
; annotations and isinstance checks name classes without calling them).
(call
  function: [(identifier) @reference.call
             (attribute attribute: (identifier) @reference.call)])

(attribute attribute: (identifier) @reference.attribute)

(identifier) @reference.name
