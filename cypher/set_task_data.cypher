// Record where a task's training data came from and where its validated copy is.
// $name: task name; $source: what the user gave (--data); $path: the stored copy.
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
MATCH (t:Task {name: $name})
SET t.data_source = $source, t.data_path = $path
