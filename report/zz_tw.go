package report

import _ "github.com/olekukonko/tablewriter"
