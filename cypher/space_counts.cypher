// Recount a space's architectures and edits and store them on its Space node.
// $space: space name.
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
MATCH (s:Space {name: $space})
CALL (s) { MATCH (a:Architecture {space: s.name}) RETURN count(a) AS n }
CALL (s) { MATCH (a:Architecture {space: s.name})-[e:EDIT]->() RETURN count(e) AS m }
SET s.architectures = n, s.edits = m
RETURN n AS architectures, m AS edits
