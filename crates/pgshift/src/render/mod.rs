//! Turning core values into text and JSON. Nothing here decides anything.

pub mod busy;
pub mod check;
pub mod failure;
pub mod problem;
pub mod status;
