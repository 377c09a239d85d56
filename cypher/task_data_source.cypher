// Where a task's training data came from and where its validated copy is (nulls for a
// task imported as a table of results).
// $name: task name.
MATCH (t:Task {name: $name})
RETURN t.data_source AS source, t.data_path AS path
