// A marker node (tests and health checks: write it, restart, read it back).
// $name: marker name.
MERGE (m:Marker {name: $name})
RETURN m.name AS name
