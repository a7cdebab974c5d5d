; Orion tags for Go.
; References are not in this query: they are identifier tokens outside
; comments and strings (orion_lsp/context/references.py).
; orion: max-start-depth 5

(function_declaration
  name: (identifier) @name) @definition.function

(method_declaration
  name: (field_identifier) @name) @definition.method

(type_spec
  name: (type_identifier) @name
  type: (struct_type)) @definition.class

(type_spec
  name: (type_identifier) @name
  type: (interface_type)) @definition.interface

(type_spec
  name: (type_identifier) @name) @definition.type

(method_elem
  name: (field_identifier) @name) @definition.method
