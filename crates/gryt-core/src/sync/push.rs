//! Push outcomes: what one answer of the server means for the pending operation it
//! answers.
