; Orion tags for JavaScript (and JSX).
; References are not in this query: they are identifier tokens outside
; comments and strings (orion_lsp/context/references.py).
; orion: max-start-depth 8

(function_declaration
  name: (identifier) @name) @definition.function

(generator_function_declaration
  name: (identifier) @name) @definition.function

(class_declaration
  name: (identifier) @name) @definition.class

(method_definition
  name: [(property_identifier) (private_property_identifier)] @name) @definition.method

; const handler = () => {...} / function () {...}
(variable_declarator
  name: (identifier) @name
  value: [(arrow_function) (function_expression)]) @definition.function

; exports.handler = function () {...}
(assignment_expression
  left: (member_expression property: (property_identifier) @name)
  right: [(arrow_function) (function_expression)]) @definition.function
