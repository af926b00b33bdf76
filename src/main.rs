fn main() -> std::process::ExitCode {
    ghr::main()
}
