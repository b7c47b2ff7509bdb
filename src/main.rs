fn main() {
    std::process::exit(tokengate::exit_code::PASS);
}
