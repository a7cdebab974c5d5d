; Orion tags for C++.
; References are not in this query: they are identifier tokens outside
; comments and strings (orion_lsp/context/references.py).
; orion: max-start-depth 8

(function_definition
  declarator: (function_declarator
    declarator: [(identifier) @name
                 (field_identifier) @name
                 (destructor_name) @name
                 (operator_name) @name])) @definition.function

(function_definition
  declarator: (pointer_declarator
    declarator: (function_declarator
      declarator: (identifier) @name))) @definition.function

(function_definition
  declarator: (reference_declarator
    (function_declarator
      declarator: (identifier) @name))) @definition.function

; Out-of-class member definitions: Foo::bar(...) { ... }
(function_definition
  declarator: (function_declarator
    declarator: (qualified_identifier
      name: [(identifier) (destructor_name) (operator_name)] @name))) @definition.method

; Member declarations inside a class body.
(field_declaration_list
  (field_declaration
    declarator: (function_declarator
      declarator: (field_identifier) @name)) @definition.method)

; Constructors declared in a class body parse as declarations.
(field_declaration_list
  (declaration
    declarator: (function_declarator
      declarator: [(identifier) (field_identifier) (destructor_name)] @name)) @definition.method)

(field_declaration_list
  (function_definition
    declarator: (function_declarator
      declarator: [(field_identifier) (identifier) (destructor_name) (operator_name)] @name)) @definition.method)

(declaration
  declarator: (function_declarator
    declarator: (identifier) @name)) @definition.function

(class_specifier
  name: (type_identifier) @name
  body: (field_declaration_list)) @definition.class

(struct_specifier
  name: (type_identifier) @name
  body: (field_declaration_list)) @definition.class

(union_specifier
  name: (type_identifier) @name
  body: (field_declaration_list)) @definition.class

(enum_specifier
  name: (type_identifier) @name
  body: (enumerator_list)) @definition.enum

(type_definition
  declarator: (type_identifier) @name) @definition.type

(alias_declaration
  name: (type_identifier) @name) @definition.type

(namespace_definition
  name: (namespace_identifier) @name) @definition.module

(preproc_function_def
  name: (identifier) @name) @definition.macro
