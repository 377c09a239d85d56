// How many marker nodes carry a name.
// $name: marker name.
MATCH (m:Marker {name: $name})
RETURN count(m) AS n
