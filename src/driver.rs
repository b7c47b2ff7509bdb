//! The driver: runs the plan.
