//! The store side of push: SQL for pending operations and their answers (journal,
//! refusals, stored keys) that the push planner's outcomes need.
