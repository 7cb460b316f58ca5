//! End-to-end tests only: they live in `tests/it/`, grouped by concern
//! (`api`, `observability`, `lifecycle`, `clients`, `repo`), and start the
//! services through `flipt-testkit`. See CONTRIBUTING.md.
