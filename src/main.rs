//! The `faultline` command.

fn main() {
    std::process::exit(faultline::commands::main());
}
