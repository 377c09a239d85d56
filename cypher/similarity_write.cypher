// Cache task similarities: Spearman of scores over shared architectures, both directions.
// $rows: [{a, b, spearman, shared}].
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
UNWIND $rows AS row
MATCH (a:Task {name: row.a}), (b:Task {name: row.b})
MERGE (a)-[s:SIMILARITY]->(b)
SET s.spearman = row.spearman, s.shared = row.shared, s.updated = datetime()
