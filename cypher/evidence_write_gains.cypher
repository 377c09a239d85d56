// Write per-task gains onto edits by element id: `gain:<task>` = score(end) - score(start).
// $rows: [{id, gains: {`gain:<task>`: value}}].
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
UNWIND $rows AS row
MATCH ()-[e:EDIT]->()
WHERE elementId(e) = row.id
SET e += row.gains
