/* `minispark report EVENTLOG [-o timeline.svg|timeline.html]`: replays a
 * finished run's event log and draws it, self-contained. */
#ifndef MS_REPORT_H
#define MS_REPORT_H

int ms_report_main(int argc, char **argv);

#endif
