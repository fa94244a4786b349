import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What one command of a session did: its output, exit code and the HTTP status of every curl transfer it made. */
export interface CommandResult {
  command: string;
  stdout: string;
  stderr: string;
  exitCode: number;
  statuses: number[];
}

const REAL_CURL = execFileSync('sh', ['-c', 'command -v curl']).toString().trim();

/**
 * Runs commands one after another in ONE bash process, as a reader pasting them into a terminal
 * would: variables and exports carry over. A `curl` shim first on PATH records the response
 * headers of every transfer (`-D`), so each command's HTTP statuses are known whatever the
 * command prints, pipes or captures into a variable.
 */
export async function runShellSession(commands: readonly string[], options: { env: Record<string, string>; cwd: string; timeoutMs?: number }): Promise<CommandResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'sf-shell-'));
  try {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    // -m before the command's own options: a command that sets its own timeout wins.
    writeFileSync(join(bin, 'curl'), `#!/bin/sh\nexec ${REAL_CURL} -m 30 -D "$SF_SHELL_DIR/headers.$(cat "$SF_SHELL_DIR/step").$$" "$@"\n`);
    chmodSync(join(bin, 'curl'), 0o755);
    const script = commands
      .map((c, i) => `echo ${i} > "$SF_SHELL_DIR/step"\n{ ${c}\n} > "$SF_SHELL_DIR/out.${i}" 2> "$SF_SHELL_DIR/err.${i}" < /dev/null\necho $? > "$SF_SHELL_DIR/rc.${i}"\n`)
      .join('');
    writeFileSync(join(dir, 'script.sh'), script);
    const child = spawn('bash', [join(dir, 'script.sh')], {
      cwd: options.cwd,
      env: { ...options.env, PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, SF_SHELL_DIR: dir },
      stdio: 'ignore',
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    await new Promise<void>((resolve) => child.on('exit', () => resolve()));
    clearTimeout(timer);
    const files = readdirSync(dir);
    const read = (name: string) => (files.includes(name) ? readFileSync(join(dir, name), 'utf8') : '');
    return commands.map((command, i) => {
      const headers = files
        .filter((f) => f.startsWith(`headers.${i}.`))
        .sort((a, b) => Number(a.split('.')[2]) - Number(b.split('.')[2]))
        .map((f) => readFileSync(join(dir, f), 'utf8')).join('');
      const rc = read(`rc.${i}`).trim();
      return {
        command,
        stdout: read(`out.${i}`),
        stderr: read(`err.${i}`),
        exitCode: rc === '' ? -1 : Number(rc),
        statuses: [...headers.matchAll(/^HTTP\/[\d.]+ (\d{3})/gm)].map((m) => Number(m[1])),
      };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
