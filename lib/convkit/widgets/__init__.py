"""Interactive widgets of the course: each is a pure ``state -> figure`` function plus thin wiring."""
