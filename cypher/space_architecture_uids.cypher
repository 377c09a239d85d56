// The keys of every architecture of a space, as one list.
// $space: space name.
MATCH (a:Architecture {space: $space})
RETURN collect(a.key) AS keys
