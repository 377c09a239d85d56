// A design space's stored definition (canonical JSON of its YAML, without the table
// mapping), as written by the importers.
// $name: space name.
// public
MATCH (s:Space {name: $name})
RETURN s.definition AS definition
