//! Nothing: this package only holds the `hot_paths` microbenchmark
//! (`cargo bench -p esockets-micro`).
