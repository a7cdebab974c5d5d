; Orion tags for Go.

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

(call_expression
  function: [(identifier) @reference.call
             (selector_expression field: (field_identifier) @reference.call)])

(type_identifier) @reference.type

(identifier) @reference.name
