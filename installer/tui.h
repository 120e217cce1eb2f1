/* The interactive installer (DESIGN.md section 10): an ncurses front end
 * that fills the same struct install_config as an answer file, checks it
 * with install_config_validate(), shows the plan's summary and runs the
 * same engine. Nothing is written before the operator confirms the summary;
 * at the end it offers the answer file that repeats the install. */
#pragma once

#include "engine.h"

/* Outside the installer environment no disk is offered unless it is named
 * here (device paths separated by spaces: loop devices for tests). In the
 * installer environment every installable disk is offered, and these too. */
#define TUI_DISKS_ENV "XENHOST_TUI_DISKS"

/* Runs the interactive installer on the terminal, with ENV for the engine
 * (ENV->log_path is where the log goes; stdout and stderr are sent there
 * while the screen is up, so that no child process or library prints over
 * it). The plan that was confirmed is kept next to the log as JSON
 * (tui_plan_path()). Returns 0 once installed, -ECANCELED when the operator
 * left before confirming (nothing was written), or the engine's error (the
 * screen showed its step, reason and log path; *RET_REASON says it again). */
int tui_run(const struct install_env *env, char **ret_reason);

/* Where tui_run() keeps the confirmed plan: LOG_PATH without ".log", plus
 * ".plan.json". */
int tui_plan_path(const char *log_path, char **ret);
