// A marker node (tests and health checks: write it, restart, read it back).
// $name: marker name.
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
MERGE (m:Marker {name: $name})
RETURN m.name AS name
