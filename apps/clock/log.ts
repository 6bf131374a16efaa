/** The clock's own lines, apart from ticks: facts on stdout, trouble on stderr (PM2's error log). */
export const log = (line: string): void => void process.stdout.write(`clock: ${line}\n`);
export const warn = (line: string): void => void process.stderr.write(`clock: ${line}\n`);
