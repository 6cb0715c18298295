/*-------------------------------------------------------------------------
 *
 * xact.h
 *	  The commit and abort callbacks (xact.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_XACT_H
#define QUEUE_XACT_H


/* Commit and abort (xact.c). */
extern void xact_register_callbacks(void);

#endif							/* QUEUE_XACT_H */
