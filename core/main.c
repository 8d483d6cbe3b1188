/* core/main.c — the cvnets executable: everything lives in cv_cli_main. */
#include "cli.h"

int main(int argc, char **argv) { return cv_cli_main(argc, argv); }
