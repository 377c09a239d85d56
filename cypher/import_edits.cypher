// Create edits between neighbouring architectures, once per unordered pair, described
// from the architecture `a` whose representation it was found in, and set the gains
// this import measured (`gain:<task>` = score(b) - score(a), see evidence_build).
// $rows: [{a, b, dimension, from_choice, to_choice, gains: {`gain:<task>`: value}}].
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
UNWIND $rows AS row
MATCH (a:Architecture {uid: row.a})
MATCH (b:Architecture {uid: row.b})
MERGE (a)-[e:EDIT]-(b)
ON CREATE SET e.dimension = row.dimension, e.from_choice = row.from_choice,
              e.to_choice = row.to_choice
WITH e, row, startNode(e) = a AS forward
FOREACH (k IN keys(row.gains) |
  SET e[k] = CASE WHEN forward THEN row.gains[k] ELSE -row.gains[k] END)
