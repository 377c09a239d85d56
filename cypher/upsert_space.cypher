// Store a design space's definition (its YAML, as canonical JSON) under its name.
// Returns the stored definition so the caller can refuse a conflicting redefinition.
// $name, $definition (JSON text), $dimensions (list of names).
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
MERGE (s:Space {name: $name})
ON CREATE SET s.definition = $definition, s.dimensions = $dimensions
RETURN s.definition AS definition
