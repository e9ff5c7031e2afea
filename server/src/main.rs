use std::process::ExitCode;

use leptos::prelude::get_configuration;
use tracing_subscriber::EnvFilter;

use server::config::{Config, ConfigError};
use server::{serve, shutdown, AppState};

#[tokio::main]
async fn main() -> ExitCode {
    server::memory::return_large_blocks_to_the_system();
    let config = match Config::from_args(std::env::args().skip(1), |key| std::env::var(key).ok()) {
        Ok(config) => config,
        Err(ConfigError::Help(usage)) => {
            println!("{usage}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,server=info")))
        .init();

    let leptos_options = match get_configuration(None) {
        Ok(conf) => conf.leptos_options,
        Err(error) => {
            eprintln!("error: Leptos configuration: {error}");
            return ExitCode::FAILURE;
        }
    };
    let opened = match config.database.open().await {
        Ok(opened) => opened,
        Err(error) => {
            eprintln!("error: cannot open the message store ({}): {error}", config.database.describe());
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(store = %config.database.describe(), "message store open");
    let listener = match server::bind(config.addr) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: cannot listen on {}: {error}", config.addr);
            return ExitCode::FAILURE;
        }
    };
    let addr = listener.local_addr().unwrap_or(config.addr);
    tracing::info!("chat listening on http://{addr}/chat/");

    let bus = match &config.bus {
        Some(url) => match server::bus::Bus::connect(url, &config.database.namespace()).await {
            Ok(bus) => {
                tracing::info!(bus = %url, "on the bus to the other processes");
                Some(bus)
            }
            Err(error) => {
                eprintln!("error: cannot reach the bus at {url}: {error}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let state = AppState::build_on_bus(leptos_options, opened, &config.settings, bus);
    match serve(listener, state, shutdown::signal()).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
