//! The `tenauth` binary: the command line of [`tenauth::cli`].

fn main() -> std::process::ExitCode {
    tenauth::cli::main()
}
