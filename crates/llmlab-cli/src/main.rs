//! The `llmlab` binary: a thin shim over the library.

fn main() -> std::process::ExitCode {
    llmlab_cli::main()
}
