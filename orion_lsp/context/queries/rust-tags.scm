; Orion tags for Rust.
; References are not in this query: they are identifier tokens outside
; comments and strings (orion_lsp/context/references.py).
; orion: max-start-depth 6

(function_item
  name: (identifier) @name) @definition.function

(impl_item
  body: (declaration_list
    (function_item name: (identifier) @name) @definition.method))

(trait_item
  body: (declaration_list
    [(function_item name: (identifier) @name) @definition.method
     (function_signature_item name: (identifier) @name) @definition.method]))

(struct_item
  name: (type_identifier) @name) @definition.class

(enum_item
  name: (type_identifier) @name) @definition.enum

(union_item
  name: (type_identifier) @name) @definition.class

(trait_item
  name: (type_identifier) @name) @definition.interface

(type_item
  name: (type_identifier) @name) @definition.type

(mod_item
  name: (identifier) @name) @definition.module

(macro_definition
  name: (identifier) @name) @definition.macro

; An impl block is shown as the container of its methods, and it refers to
; its type (it does not define it).
(impl_item
  type: [(type_identifier) @name
         (generic_type type: (type_identifier) @name)]) @definition.impl
