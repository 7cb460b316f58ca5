//! Checks of the repository's own files against the code: the README's
//! calls, the deployment files (compose, Dockerfile, Kubernetes) and the
//! Prometheus and Grafana files.

mod deploy;
mod readme;
