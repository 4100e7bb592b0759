"""The iotctl subcommands, one module per group; `iotctl.cli` puts them together."""
