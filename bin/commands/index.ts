/**
 * The subcommands, registered in the order `--help` lists them. Each loads its module lazily so
 * that `--help` stays fast.
 */
import { registerCommand as _registerCommand } from '../cli.js';
