//! Pull decisions: what to do with one record of the change feed, given what this
//! workspace holds.
