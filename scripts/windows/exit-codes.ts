/**
 * npm run windows: its own exit codes. Otherwise it exits with the Windows command's own code, so
 * these sit where a command rarely goes (s6's habit: 100 for usage), and each is said in one line.
 */
export const WINDOWS_EXIT = {
  /** No command given, or an unknown option of the runner itself. */
  usage: 100,
  /** wine is not installed, and this user cannot install it (not root, or no apt-get, or it failed). */
  noWine: 101,
  /** Windows Node of this Node's major version could not be had from the npm registry. */
  noWindowsNode: 102,
  /** The Windows build of a native dependency (koffi) could not be had from the npm registry. */
  noNativeBuild: 103,
  /** The wine prefix could not be created. */
  noPrefix: 104,
} as const;

/** Why the runner cannot run: one line for the user, and the exit code that says it. */
export class WindowsUnavailable extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'WindowsUnavailable';
  }
}
