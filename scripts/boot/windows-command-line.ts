/**
 * Windows hands a program one command line, not a list of arguments; the program's C runtime splits
 * it again (backslashes are literal unless they come before a quote). These are libuv's rules
 * (quote_cmd_arg), which Node itself uses, so a line built here is split back into the same arguments.
 */
export function quoteWindowsArg(arg: string): string {
  if (arg === '') return '""';
  if (!/[ \t"]/.test(arg)) return arg;
  if (!/["\\]/.test(arg)) return `"${arg}"`;
  let quoted = '';
  let backslashes = 0;
  for (const char of arg) {
    if (char === '\\') {
      backslashes += 1;
      continue;
    }
    // Backslashes are doubled only where a quote follows them, so that they stay backslashes.
    quoted += '\\'.repeat(char === '"' ? backslashes * 2 + 1 : backslashes) + char;
    backslashes = 0;
  }
  return `"${quoted}${'\\'.repeat(backslashes * 2)}"`;
}

/** The whole command line: the program, then each argument, each quoted only where it must be. */
export function windowsCommandLine(args: readonly string[]): string {
  return args.map(quoteWindowsArg).join(' ');
}
