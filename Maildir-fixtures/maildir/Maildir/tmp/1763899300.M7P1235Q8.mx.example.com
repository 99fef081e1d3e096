Return-Path: <eve@example.net>
Delivered-To: alice@example.com
From: Eve <eve@example.net>
Subject: cut off
