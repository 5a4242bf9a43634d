/*
 * doctor.h - `mtasts doctor`: will the preload library cover a program?
 *
 * DESCRIPTION
 *	Declared apart from cli.h because the doctor needs nothing of the
 *	policy engine; main.c puts it in the command table.
 */
#ifndef MTS_CLI_DOCTOR_H
#define MTS_CLI_DOCTOR_H

int cmd_doctor(int argc, char **argv);
extern const char cli_usage_doctor[];

#endif
