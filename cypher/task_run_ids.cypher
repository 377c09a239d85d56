// The ids of the refinement runs whose target is a task.
// $task: task name.
MATCH (r:RefineRun {task: $task})
RETURN collect(r.id) AS ids
