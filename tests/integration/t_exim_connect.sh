#!/bin/bash
# Exim with TCP Fast Open off (hosts_try_fastopen = :, a plain connect())
# under libmtasts.so: the same rows as t_exim_tfo.sh, the reference case
# that the connect() hook alone already covers.
EXIM_TFO=off exec bash "$(dirname "$0")/t_exim_tfo.sh"
