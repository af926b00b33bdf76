//! `ghr serve [--listen ADDR] [--env-file PATH]... [--dir DIR] [--token-file PATH]
//! [--allow-holds]`: the dashboard, JSON API and metrics of every fleet given (see `serve/`).

use crate::cli::args::{GlobalArgs, ServeArgs};
use crate::serve::{self, Config};
use crate::world::error::Result;

pub fn run(global: &GlobalArgs, args: ServeArgs) -> Result<()> {
    serve::run(&Config {
        listen: args.listen,
        env_files: global.env_file.clone(),
        dir: args.dir,
        token_file: args.token_file,
        allow_holds: args.allow_holds,
    })
}
