// Record where a task's training data came from and where its validated copy is.
// $name: task name; $source: what the user gave (--data); $path: the stored copy.
MATCH (t:Task {name: $name})
SET t.data_source = $source, t.data_path = $path
